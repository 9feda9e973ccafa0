// Digests and accounts with JavaScript off: an administrator chooses their
// digest, previews it, gets one by email and unsubscribes from its link with no
// session; a contributor downloads what is held about them and deletes their
// account. Zero axe violations on every page, including those showing an error.
//
// The journeys share one demo database, in whatever order they run, and may run
// twice against one server: the administrator signs in once here (sign-in links
// are rate limited per address, and other journeys sign them in too), and a
// digest already sent today is read back from the mailbox rather than sent again.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { after, before, test } from 'node:test'
import {
  baseUrl,
  expectNoAxeViolations,
  extractLink,
  latestEmailTo,
  launchBrowser,
  newContext,
  signIn,
} from './support.mjs'

const ADMIN = 'admin@example.nhs.uk'
// The server's binary and data directory, for `hub digests send` beside it.
const HUB_BIN = process.env.HUB_BIN
const HUB_DATA_DIR = process.env.HUB_DATA_DIR
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

// `hub digests send --user EMAIL` on the server's database (the default SQLite under
// its data directory, or HUB_DATABASE_URL when the server was given one), with links
// to the server's address. Returns what it printed. hub refuses HUB_* variables it
// does not know, so the tests' own are not passed on.
async function sendDigestTo(email) {
  const ours = new Set(['HUB_BIN', 'HUB_BASE_URL', 'HUB_MAIL_DIR'])
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !ours.has(name)))
  const { stdout } = await promisify(execFile)(HUB_BIN, ['digests', 'send', '--user', email], {
    cwd: REPO_ROOT,
    env: { ...inherited, HUB_DATA_DIR, HUB_PUBLIC_URL: `${baseUrl}/`, RUST_LOG: 'warn' },
    timeout: 60_000,
  })
  return stdout
}

test('an administrator chooses, previews, gets and unsubscribes from their digest with JavaScript off', async (t) => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  await signIn(page, ADMIN)

  await page.goto('/board/digest')
  assert.equal(await page.locator('h1').textContent(), 'Your email digest')
  await expectNoAxeViolations(page, 'digest settings')

  // Every day, with every section unticked: the form asks for at least one.
  await page.getByRole('radio', { name: 'Every day' }).check()
  const sections = page.getByRole('group', { name: 'What should it include?' }).getByRole('checkbox')
  assert.equal(await sections.count(), 6)
  for (const box of await sections.all()) await box.uncheck()
  await page.getByRole('button', { name: 'Save digest settings' }).click()
  const summary = page.locator('.nhsuk-error-summary')
  assert.equal(await summary.count(), 1)
  assert.match(await summary.textContent(), /Choose at least one section/)
  assert.match(await page.title(), /^Error: /)
  assert.ok(await page.getByRole('radio', { name: 'Every day' }).isChecked(), 'the choice is kept')
  await expectNoAxeViolations(page, 'digest settings with an error')

  // The error links to the first section; tick it and one more with the keyboard.
  await summary.getByRole('link', { name: /Choose at least one section/ }).click()
  await page.getByLabel('New critical and high-severity reports').focus()
  await page.keyboard.press('Space')
  await page.getByLabel('New ideas, most supported first').focus()
  await page.keyboard.press('Space')
  await page.getByLabel('Day of the week (weekly digests)').selectOption({ label: 'Wednesday' })
  await page.getByLabel('From what time? (UK time)').selectOption({ label: '7:00' })
  await page.getByRole('button', { name: 'Save digest settings' }).focus()
  await page.keyboard.press('Enter')
  await page.waitForURL('**/board/digest?saved=1')
  assert.match(
    await page.locator('.nhsuk-notification-banner').textContent(),
    /Your digest settings have been saved\./,
  )
  assert.ok(await page.getByRole('radio', { name: 'Every day' }).isChecked())
  assert.ok(await page.getByLabel('New critical and high-severity reports').isChecked())
  assert.ok(await page.getByLabel('New ideas, most supported first').isChecked())
  assert.equal(await page.getByLabel('Items assigned to you awaiting action').isChecked(), false)
  assert.equal(await page.getByLabel('From what time? (UK time)').inputValue(), '7')
  assert.equal(await page.getByLabel('Day of the week (weekly digests)').inputValue(), '3')
  await expectNoAxeViolations(page, 'digest settings saved')

  await page.getByRole('link', { name: 'See what your next digest would say' }).click()
  await page.waitForURL('**/board/digest/preview')
  assert.equal(await page.locator('h1').textContent(), 'Your next digest')
  const preview = await page.locator('main').textContent()
  assert.match(preview, /Subject:|Nothing is new since your last digest/)
  assert.doesNotMatch(preview, /consultation response/i, 'only the sections chosen')
  await expectNoAxeViolations(page, 'digest preview')
  await page.getByRole('link', { name: 'Back to your digest settings' }).click()
  await page.waitForURL('**/board/digest')

  if (!HUB_BIN || !HUB_DATA_DIR) {
    const reason =
      'HUB_BIN and HUB_DATA_DIR are not set, so no digest was sent and its unsubscribe link was not followed ' +
      '(set them to the hub binary and the running server\'s data directory, as scripts/test does)'
    console.log(`NOTICE: ${reason}`)
    t.skip(reason)
    await context.close()
    return
  }

  // A real digest, sent by the command line into the server's mailbox.
  const started = Date.now()
  const output = await sendDigestTo(ADMIN)
  const sentNow = / sent "/.test(output)
  if (!sentNow) {
    // Today's digest went out on an earlier run against this server (or nothing is
    // new since): its email is still in the mailbox, and its link still works.
    assert.match(output, /already sent|nothing new/, `hub digests send said:\n${output}`)
    console.log(`NOTICE: no new digest was sent (${output.trim()}); using the one already in the mailbox`)
  }
  const digest = await latestEmailTo(ADMIN, {
    after: sentNow ? started - 1000 : 0,
    where: (headers) => headers.has('list-unsubscribe'),
  })
  assert.ok(digest.text, 'the digest has a text/plain part')
  assert.ok(digest.html, 'and a text/html part')
  assert.match(digest.text, /New critical|new critical/)
  assert.equal(digest.headers.get('list-unsubscribe-post'), 'List-Unsubscribe=One-Click')
  const link = extractLink(digest.headers.get('list-unsubscribe'), '/digests/unsubscribe')
  assert.equal(new URL(link).origin, new URL(baseUrl).origin, 'the link points at this service')
  assert.equal(extractLink(digest.text, '/digests/unsubscribe'), link, 'the body links to the same address')

  // Opened with no session at all, as from a mail client.
  const anonymous = await newContext(browser, { javaScriptEnabled: false })
  const outside = await anonymous.newPage()
  await outside.goto(link)
  assert.equal(await outside.locator('h1').textContent(), 'Unsubscribe from digests')
  assert.equal((await anonymous.cookies()).filter((c) => c.name.includes('session')).length, 0)
  await expectNoAxeViolations(outside, 'unsubscribe from digests')
  await outside.getByRole('button', { name: 'Unsubscribe' }).focus()
  await outside.keyboard.press('Enter')
  await outside.locator('h1', { hasText: 'You have unsubscribed' }).waitFor()
  assert.match(await outside.locator('main').textContent(), /You will not get any more email digests/)
  await expectNoAxeViolations(outside, 'unsubscribed')
  await anonymous.close()

  // The administrator's own settings now say never.
  await page.goto('/board/digest')
  assert.ok(await page.getByRole('radio', { name: 'Never: no digests' }).isChecked())
  assert.equal(await page.getByRole('radio', { name: 'Every day' }).isChecked(), false)
  await context.close()
})

test('a contributor downloads their data and deletes their account with JavaScript off', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  const email = `leaver-${Date.now()}@example.com`

  // Signing up is signing in with a new address; the profile comes first.
  await signIn(page, email)
  await page.waitForURL('**/profile')
  await page.getByLabel('Full name').fill('Lee Leaver')
  await page.getByLabel('Patient or member of the public').check()
  await page.getByRole('button', { name: 'Save profile' }).click()
  await page.waitForURL('**/profile?saved=1')
  await expectNoAxeViolations(page, 'profile with its data links')

  const link = page.getByRole('link', { name: 'Download everything we hold about you' })
  assert.equal(await link.getAttribute('href'), '/account/data')
  const download = await context.request.get('/account/data')
  assert.equal(download.status(), 200)
  assert.match(download.headers()['content-type'], /^application\/json/)
  assert.match(download.headers()['content-disposition'] ?? '', /attachment/)
  const data = await download.json()
  assert.equal(data.account.email, email)
  assert.equal(data.account.display_name, 'Lee Leaver')

  await page.getByRole('link', { name: 'Delete your account' }).click()
  await page.waitForURL('**/account/delete')
  assert.equal(await page.locator('h1').textContent(), 'Delete your account')
  await expectNoAxeViolations(page, 'delete your account')

  await page.getByRole('button', { name: 'Delete my account' }).click()
  const summary = page.locator('.nhsuk-error-summary')
  assert.equal(await summary.count(), 1)
  assert.match(await summary.textContent(), /Tick the box to confirm/)
  assert.match(await page.title(), /^Error: /)
  await expectNoAxeViolations(page, 'delete your account with an error')

  // The error links to the box; tick it and press the button with the keyboard.
  await summary.getByRole('link', { name: /Tick the box to confirm/ }).click()
  await page.getByRole('checkbox', { name: 'I want to delete my account' }).focus()
  await page.keyboard.press('Space')
  await page.getByRole('button', { name: 'Delete my account' }).focus()
  await page.keyboard.press('Enter')
  await page.waitForURL('**/account/deleted')
  assert.equal(await page.locator('h1').textContent(), 'Your account has been deleted')
  await expectNoAxeViolations(page, 'account deleted')

  // Signed out: the profile asks for a sign-in, and the data is gone with it.
  const profile = await page.goto('/profile')
  assert.equal(profile.status(), 401)
  assert.doesNotMatch(await page.locator('main').textContent(), /Lee Leaver|Your profile/)
  assert.equal((await context.request.get('/account/data')).status(), 401)
  await context.close()
})
