// Browser journeys for the organisation register (see scripts/test): an
// administrator imports an NHS ODS file with JavaScript off, follows its
// progress and reads the rejected rows; zero axe violations on every page.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext, offOriginRequests, signIn } from './support.mjs'

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

// Codes unique to this run, so a rerun against the same server creates
// rather than updates.
const suffix = Date.now().toString(36).slice(-6).toUpperCase()
const goodCode = `J${suffix}`

function odsFile() {
  const row = (code, name) => `"${code}","${name}","Y56","Q71","1 HIGH STREET","","LONDON","","","N1 1AA","20010401","",""`
  return [row(goodCode, `JOURNEY TRUST ${suffix}`), row('J-1', 'BAD CODE TRUST'), row(`K${suffix}`, '')].join('\n') + '\n'
}

test('an administrator imports an ODS file with JavaScript off and reads the rejected rows', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  await signIn(page, 'admin@example.nhs.uk')

  await page.getByRole('link', { name: 'Organisations', exact: true }).click()
  await page.waitForURL('**/admin/organisations')
  assert.equal(await page.locator('h1').textContent(), 'Organisations')
  await expectNoAxeViolations(page, 'organisation register')

  await page.getByRole('button', { name: 'Import organisations' }).click()
  assert.match(await page.title(), /^Error: /)
  assert.match(await page.locator('.nhsuk-error-summary').textContent(), /Select a CSV file to import/)
  await expectNoAxeViolations(page, 'organisation register with an error')

  await page.getByLabel('CSV file').setInputFiles({ name: 'etr.csv', mimeType: 'text/csv', buffer: Buffer.from(odsFile()) })
  await page.getByLabel('What kind of organisations does the file list?').selectOption('trust')
  await page.getByRole('button', { name: 'Import organisations' }).click()
  await page.waitForURL('**/admin/organisations/imports/*')
  assert.equal(await page.locator('h1').textContent(), 'etr.csv')

  // Without JavaScript, progress is followed by refreshing the page.
  for (let attempt = 0; attempt < 50; attempt++) {
    const refresh = page.getByRole('link', { name: 'Refresh this page to see progress' })
    if ((await refresh.count()) === 0) break
    await refresh.click()
  }
  assert.equal(await page.locator('[data-import-field=status]').textContent(), 'Finished')
  assert.match(await page.locator('main').textContent(), /Processed\s+3\s+of\s+3\s+rows/)
  const rejected = page.getByRole('table')
  assert.equal(await rejected.locator('tbody tr').count(), 2)
  assert.match(await rejected.locator('tbody tr').first().textContent(), /2\s*J-1\s*BAD CODE TRUST\s*ODS code must be 3 to 10 letters/)
  assert.match(await rejected.locator('tbody tr').nth(1).textContent(), /The name is missing/)
  await expectNoAxeViolations(page, 'finished import')

  const csvLink = page.getByRole('link', { name: 'Download the rejected rows (CSV)' })
  const report = await page.request.get(new URL(await csvLink.getAttribute('href'), page.url()).href)
  assert.equal(report.status(), 200)
  assert.match(await report.text(), /^line,ods_code,name,reason\n2,J-1,BAD CODE TRUST,/)

  await page.goto(`/admin/organisations?q=${goodCode}`)
  const matches = page.getByRole('table', { name: `1 organisation matching “${goodCode}”` })
  assert.match(await matches.locator('tbody').textContent(), new RegExp(`JOURNEY TRUST ${suffix}`))
  await expectNoAxeViolations(page, 'register search')

  // The same pages with JavaScript on (the upload field is enhanced), in the
  // same session: sign-in links are rate-limited per address.
  const scripted = await newContext(browser)
  await scripted.addCookies(await context.cookies())
  const scriptedPage = await scripted.newPage()
  await scriptedPage.goto('/admin/organisations')
  await expectNoAxeViolations(scriptedPage, 'organisation register, scripted')
  await scriptedPage.goto(page.url())
  await expectNoAxeViolations(scriptedPage, 'register search, scripted')
  assert.deepEqual(offOriginRequests(context), [])
  assert.deepEqual(offOriginRequests(scripted), [])
  await scripted.close()
  await context.close()
})

test('a contributor is refused the organisation register', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  await signIn(page, 'nurse@example.nhs.uk')
  const response = await page.goto('/admin/organisations')
  assert.equal(response?.status(), 403)
  assert.equal(await page.getByRole('link', { name: 'Organisations', exact: true }).count(), 0)
  await context.close()
})
