// The search page with JavaScript off: a query, highlighted results, a
// facet filter, and zero axe violations.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext, signIn } from './support.mjs'

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

test('a board member saves a search with JavaScript off and finds it listed', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  await signIn(page, 'board@example.nhs.uk')
  await page.goto('/search?q=login&kind=idea')
  assert.match(await page.locator('.app-card-list').textContent(), /One login for every clinical system/)
  await page.getByRole('link', { name: 'Save this search' }).click()
  await page.waitForURL(/\/search\/save\?/)
  await expectNoAxeViolations(page, 'save a search')

  await page.getByRole('button', { name: 'Save search' }).click()
  assert.equal(await page.locator('.nhsuk-error-summary').count(), 1, 'a name is required')
  await expectNoAxeViolations(page, 'save a search with an error')
  await page.getByLabel('Name', { exact: true }).fill('Single sign-on ideas')
  await page.getByRole('button', { name: 'Save search' }).click()
  await page.waitForURL(/\/search\/saved\?saved=1/)
  assert.match(await page.locator('table').textContent(), /Single sign-on ideas/)
  await expectNoAxeViolations(page, 'saved searches')

  await page.getByRole('button', { name: 'Stop telling me about Single sign-on ideas' }).click()
  await page.waitForURL(/\/search\/saved$/)
  assert.ok(await page.getByRole('button', { name: 'Tell me about Single sign-on ideas' }).isVisible())
  await context.close()
})
