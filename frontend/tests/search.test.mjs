// The search page with JavaScript off: a query, highlighted results, a
// facet filter, and zero axe violations.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext } from './support.mjs'

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

test('a signed-out person searches with JavaScript off and narrows by type', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  await page.goto('/search')
  assert.equal(await page.locator('h1').count(), 1)
  await expectNoAxeViolations(page, 'search, empty')

  await page.getByLabel('Search ideas, reports and comments').fill('login')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await page.waitForURL(/q=login/)
  assert.match(await page.locator('.app-card-list').textContent(), /One login for every clinical system/)
  assert.ok((await page.locator('.app-card-list b').count()) > 0, 'matching words are highlighted')
  assert.equal(await page.getByText('Pathology results viewer').count(), 0, 'reports are not shown to the public')
  await expectNoAxeViolations(page, 'search results')

  await page.getByLabel(/^Ideas \(\d+\)$/).check()
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.waitForURL(/kind=idea/)
  await expectNoAxeViolations(page, 'search results filtered')

  await page.goto('/search?q=%22unclosed')
  assert.equal(await page.locator('.nhsuk-error-summary').count(), 1)
  await expectNoAxeViolations(page, 'search with an error')
  await context.close()
})
