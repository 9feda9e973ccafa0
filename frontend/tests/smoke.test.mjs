import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext, offOriginRequests } from './support.mjs'

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

test('the home page has one h1, a skip link, no axe violations and asks no outside host', async () => {
  const context = await newContext(browser)
  const page = await context.newPage()
  const response = await page.goto('/')
  assert.equal(response?.status(), 200)

  assert.equal(await page.locator('h1').count(), 1)
  assert.equal(await page.locator('a.nhsuk-skip-link').count(), 1)
  await expectNoAxeViolations(page, 'home page')
  assert.deepEqual(offOriginRequests(context), [])
  await context.close()
})
