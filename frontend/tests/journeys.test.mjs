// Browser journeys against a running `hub serve --demo` (see scripts/test):
// signing in with JavaScript off and on, and zero axe violations on every page.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext, offOriginRequests, signIn } from './support.mjs'

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

test('signed-out pages pass axe with one h1 each', async () => {
  const context = await newContext(browser)
  const page = await context.newPage()
  const pages = [
    ['/', 200],
    ['/sign-in', 200],
    ['/sign-in/check-email', 200],
    ['/sign-in/link?token=not-a-real-token', 410],
    ['/accessibility', 200],
    ['/privacy', 200],
    ['/problems/validation', 200],
    ['/signed-out', 200],
    ['/no/such/page', 404],
    ['/profile', 401],
  ]
  for (const [path, status] of pages) {
    const response = await page.goto(path)
    assert.equal(response?.status(), status, path)
    assert.equal(await page.locator('h1').count(), 1, `${path} has one h1`)
    assert.match(await page.title(), / – HealthTech Hub$/, `${path} title`)
    await expectNoAxeViolations(page, path)
  }
  assert.deepEqual(offOriginRequests(context), [])
  await context.close()
})

test('the first thing a keyboard reaches is the skip link, and it moves focus to the content', async () => {
  const context = await newContext(browser)
  const page = await context.newPage()
  await page.goto('/')
  await page.keyboard.press('Tab')
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim())
  assert.equal(focused, 'Skip to main content')
  await page.keyboard.press('Enter')
  // Following the link changes the address once the browser has scrolled: wait for it.
  await page.waitForURL(/#maincontent$/)
  await context.close()
})

test('a person signs in with JavaScript off, completes their profile, creates a token and signs out', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  const email = `nojs-${Date.now()}@example.nhs.uk`

  await page.goto('/sign-in')
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click()
  assert.equal(await page.locator('.nhsuk-error-summary').count(), 1, 'an empty address shows the error summary')
  assert.match(await page.title(), /^Error: /)
  await expectNoAxeViolations(page, 'sign-in with an error')

  await signIn(page, email)
  await page.waitForURL('**/profile')
  assert.equal(await page.locator('h1').textContent(), 'Tell us about yourself')
  await expectNoAxeViolations(page, 'first profile')

  await page.getByRole('button', { name: 'Save profile' }).click()
  assert.equal(await page.locator('.nhsuk-error-summary li').count(), 2, 'name and respondent type are required')
  await expectNoAxeViolations(page, 'profile with errors')

  await page.getByLabel('Full name').fill('Nadia Nojs')
  await page.getByLabel('NHS staff').check()
  await page.getByLabel('ODS code (optional)').fill('RTH')
  await page.getByLabel('Job title (optional)').fill('Clinical safety officer')
  await page.getByRole('button', { name: 'Save profile' }).click()
  await page.waitForURL('**/profile?saved=1')
  assert.match(await page.locator('[role=status]').textContent(), /saved/)
  assert.match(await page.locator('.nhsuk-header__account').textContent(), /Nadia Nojs/)

  await page.goto('/account/tokens')
  await page.getByLabel('Token name').fill('Ward dashboard')
  await page.getByRole('button', { name: 'Create token' }).click()
  const token = await page.locator('#new-token').textContent()
  assert.match(token ?? '', /^hth_/)
  await expectNoAxeViolations(page, 'tokens with a new token')
  const me = await fetch(new URL('/api/v1/me', page.url()), { headers: { authorization: `Bearer ${token}` } })
  assert.equal((await me.json()).display_name, 'Nadia Nojs')

  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL('**/signed-out')
  assert.equal(await page.getByRole('link', { name: 'Sign in', exact: true }).count(), 1)
  await context.close()
})

test('an administrator changes a role; admin pages pass axe with JavaScript on', async () => {
  const context = await newContext(browser)
  const page = await context.newPage()
  await signIn(page, 'admin@example.nhs.uk')
  await page.waitForURL((url) => url.pathname === '/' || url.pathname === '/profile')
  await page.goto('/admin/users')
  await expectNoAxeViolations(page, 'admin users')
  const select = page.getByLabel('Role for nurse@example.nhs.uk')
  await select.selectOption('board')
  await page.getByRole('button', { name: 'Change role for nurse@example.nhs.uk' }).click()
  await page.waitForURL('**/admin/users')
  assert.equal(await page.getByLabel('Role for nurse@example.nhs.uk').inputValue(), 'board')
  await page.getByLabel('Role for nurse@example.nhs.uk').selectOption('contributor')
  await page.getByRole('button', { name: 'Change role for nurse@example.nhs.uk' }).click()
  await page.goto('/admin/emails')
  await expectNoAxeViolations(page, 'failed emails')
  await page.goto('/account/tokens')
  await expectNoAxeViolations(page, 'tokens, none yet')
  assert.deepEqual(offOriginRequests(context), [])
  await context.close()
})

test('a contributor is shown the 403 page for admin pages', async () => {
  const context = await newContext(browser)
  const page = await context.newPage()
  await signIn(page, 'supplier@example.com')
  await page.waitForURL((url) => url.pathname === '/' || url.pathname === '/profile')
  const response = await page.goto('/admin/users')
  assert.equal(response?.status(), 403)
  await expectNoAxeViolations(page, '403 page')
  await context.close()
})
