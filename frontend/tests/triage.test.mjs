// Triage with JavaScript off: a board member takes a demo idea from the inbox
// to a decision's first steps (assigned, status changed with a note, tagged,
// linked to a report, an internal note) and finds each step on its timeline.
// Zero axe violations on every page, including one showing an error.
//
// The journeys share one demo database, in whatever order they run: this one
// signs in once (sign-in links are rate limited per address), picks a status
// the idea can move to from wherever it is, and uses a tag of its own.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { expectNoAxeViolations, launchBrowser, newContext, signIn } from './support.mjs'

const IDEA = 'Publish a national test environment for GP Connect'
const REPORT = 'Pathology results viewer'

// Where the idea can go next from the status the inbox shows (never a closed
// status, so it stays among the items awaiting a decision).
const NEXT_STATUS = {
  Submitted: 'shortlisted',
  'Under review': 'shortlisted',
  Shortlisted: 'in_progress',
  'In progress': 'shortlisted',
  Implemented: 'in_progress',
  Declined: 'under_review',
  Duplicate: 'under_review',
}

let browser
before(async () => {
  browser = await launchBrowser()
})
after(() => browser?.close())

async function resultLines(page) {
  const banner = page.getByRole('region', { name: 'What happened' })
  return (await banner.textContent()).replace(/\s+/g, ' ')
}

test('a board member triages an idea end to end with JavaScript off', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false })
  const page = await context.newPage()
  const stamp = Date.now().toString(36)
  const tag = `Sandbox ${stamp}`
  const note = `Checked with the GP Connect team (${stamp}): the sandbox is on their roadmap.`
  await signIn(page, 'board@example.nhs.uk')

  // The inbox, filtered to ideas.
  await page.getByRole('link', { name: 'Inbox', exact: true }).first().click()
  await page.waitForURL('**/board/inbox')
  assert.equal(await page.locator('h1').textContent(), 'Inbox')
  await expectNoAxeViolations(page, 'inbox')
  await page.getByRole('checkbox', { name: 'Ideas', exact: true }).check()
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.waitForURL(/\/board\/inbox\?.*kind=idea/)
  await expectNoAxeViolations(page, 'inbox filtered to ideas')
  const row = () => page.getByRole('row').filter({ has: page.getByRole('link', { name: IDEA, exact: true }) })
  assert.equal(await row().count(), 1, 'the demo idea is listed')
  assert.doesNotMatch(await page.locator('tbody').textContent(), /Report ·|Consultation response ·/, 'only ideas')

  // Tick it with the keyboard and assign it to me.
  const tick = () => page.getByRole('checkbox', { name: `Select ${IDEA}`, exact: true })
  await tick().focus()
  await page.keyboard.press('Space')
  assert.ok(await tick().isChecked(), 'Space ticks the item')
  await page.getByRole('button', { name: 'Assign to me' }).click()
  await page.waitForURL('**/board/inbox/assign')
  assert.match(await resultLines(page), new RegExp(`${IDEA}: Assigned\\.`))
  assert.match(await row().textContent(), /Bea Board/, 'the row shows who it is assigned to')
  assert.ok(await page.getByRole('checkbox', { name: 'Ideas', exact: true }).isChecked(), 'the filters are kept')
  await expectNoAxeViolations(page, 'inbox after assigning')

  // Change its status with a public note.
  const from = (await row().getByRole('cell').nth(2).textContent()).trim()
  const to = NEXT_STATUS[from]
  assert.ok(to, `a next status for an idea that is ${from}`)
  await tick().check()
  await page.getByLabel('New status').selectOption(to)
  const toLabel = (await page.getByLabel('New status').locator('option:checked').textContent()).replace(/^Idea: /, '')
  await page.getByLabel('Note', { exact: true }).fill('The board has asked NHS England for a date for a GP Connect sandbox.')
  await page.getByRole('button', { name: 'Change status' }).click()
  await page.waitForURL('**/board/inbox/status')
  assert.match(await resultLines(page), new RegExp(`${IDEA}: Status changed\\.`))
  assert.equal((await row().getByRole('cell').nth(2).textContent()).trim(), toLabel)
  await expectNoAxeViolations(page, 'inbox after a status change')

  // Tag it.
  await tick().check()
  await page.getByRole('textbox', { name: 'Tag for the selected items', exact: true }).fill(tag)
  await page.getByRole('button', { name: 'Add tag' }).click()
  await page.waitForURL('**/board/inbox/tag')
  assert.match(await resultLines(page), new RegExp(`${IDEA}: Tagged ${tag}\\.`))
  assert.match(await row().textContent(), new RegExp(tag))
  await expectNoAxeViolations(page, 'inbox after tagging')

  // The idea's page shows the board its tags and links.
  await row().getByRole('link', { name: IDEA, exact: true }).click()
  await page.waitForURL(/\/ideas\/[0-9a-f-]{36}$/)
  const ideaId = new URL(page.url()).pathname.split('/').pop()
  const boardSection = page.getByRole('region', { name: 'Notes and replies' })
  assert.match(await boardSection.textContent(), new RegExp(tag))
  await expectNoAxeViolations(page, 'the idea, with its tags for the board')

  // Copy the demo report's address from another tab.
  const tab = await context.newPage()
  await tab.goto('/reports')
  await expectNoAxeViolations(tab, 'all reports')
  await tab.getByRole('link', { name: REPORT, exact: true }).first().click()
  await tab.waitForURL(/\/reports\/[0-9a-f-]{36}$/)
  await expectNoAxeViolations(tab, 'the demo report')
  const reportAddress = tab.url()
  const reportId = new URL(reportAddress).pathname.split('/').pop()
  await tab.close()

  // Tags and links: an empty tag is refused, then the report is linked.
  await boardSection.getByRole('link', { name: 'Change tags and links' }).click()
  await page.waitForURL(`**/board/items/idea/${ideaId}`)
  assert.equal(await page.locator('h1').textContent(), 'Tags and links')
  assert.match(await page.locator('main').textContent(), new RegExp(tag))
  await expectNoAxeViolations(page, 'tags and links')
  await page.getByRole('button', { name: 'Add tag' }).click()
  const summary = page.locator('.nhsuk-error-summary')
  assert.equal(await summary.count(), 1, 'an empty tag is refused')
  assert.match(await summary.textContent(), /Enter a tag/)
  assert.match(await page.title(), /^Error: /)
  assert.equal(await summary.getByRole('link', { name: 'Enter a tag' }).getAttribute('href'), '#tag')
  await expectNoAxeViolations(page, 'tags and links with an error')

  // Run again against the same server, the journey first removes the link it made before.
  const earlier = page.getByRole('button', { name: `Remove link to ${REPORT}` })
  if ((await earlier.count()) > 0) {
    await earlier.click()
    await page.waitForURL(`**/board/items/idea/${ideaId}?done=unlinked`)
  }
  await page.getByLabel('Link to').fill(reportAddress)
  await page.getByRole('button', { name: 'Add link' }).click()
  await page.waitForURL(`**/board/items/idea/${ideaId}?done=linked`)
  assert.match(await page.getByRole('alert').textContent(), /The link has been added\./)
  const linked = page.getByRole('listitem').filter({ has: page.getByRole('link', { name: REPORT, exact: true }) })
  assert.match(await linked.textContent(), /Report:/)
  assert.ok(await linked.getByRole('button', { name: `Remove link to ${REPORT}` }).isVisible())
  await expectNoAxeViolations(page, 'tags and links after linking')

  // The link reads the same from the report's end.
  await page.goto(`/board/items/report/${reportId}`)
  assert.ok(await page.getByRole('link', { name: IDEA, exact: true }).first().isVisible(), 'the report lists the idea')
  await expectNoAxeViolations(page, "the report's tags and links")
  await page.goto(`/board/items/idea/${ideaId}`)

  // An internal note.
  await page.getByRole('link', { name: 'Notes and replies' }).click()
  await page.waitForURL(`**/board/notes/idea/${ideaId}`)
  await expectNoAxeViolations(page, 'notes and replies')
  await page.getByLabel('Internal note: board members only').check()
  await page.getByLabel('Note', { exact: true }).fill(note)
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await page.waitForURL(/\/board\/notes\/idea\/[0-9a-f-]{36}\?added=1/)
  assert.match(await page.getByRole('alert').textContent(), /The note has been added\./)
  assert.match(await page.locator('main').textContent(), new RegExp(stamp))
  await expectNoAxeViolations(page, 'notes and replies after a note')

  // The timeline lists every step, with what changed.
  await page.getByRole('link', { name: 'Changes to this item' }).click()
  await page.waitForURL(`**/board/audit/idea/${ideaId}`)
  await expectNoAxeViolations(page, 'changes to the idea')
  const entries = (await page.locator('.app-timeline > li').allTextContents()).map((t) => t.replace(/\s+/g, ' '))
  const entry = (action, pattern) =>
    assert.ok(
      entries.some((e) => e.includes(action) && e.includes('Bea Board') && pattern.test(e)),
      `the timeline lists ${action} ${pattern}:\n${entries.join('\n')}`,
    )
  entry('triage.assigned', /After: \{"assignee":"[0-9a-f-]{36}"/)
  entry('idea.status_changed', new RegExp(`"${to}"`))
  entry('triage.tagged', new RegExp(`"${tag}"`))
  entry('triage.linked', new RegExp(reportId))
  entry('triage.note_added', /"visibility":"internal"/)
  const order = ['triage.assigned', 'idea.status_changed', 'triage.tagged', 'triage.linked', 'triage.note_added'].map(
    (action) => entries.findLastIndex((e) => e.includes(action)),
  )
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'oldest first, in the order they were made')

  // The inbox, filtered by the new tag, finds the idea and nothing else.
  await page.getByRole('link', { name: 'Inbox', exact: true }).first().click()
  await page.waitForURL('**/board/inbox')
  await page.getByRole('combobox', { name: 'Tag', exact: true }).selectOption({ label: tag })
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await page.waitForURL(/\/board\/inbox\?.*tag=/)
  assert.equal(await row().count(), 1, 'the tagged idea is found')
  assert.equal(await page.getByRole('checkbox', { name: /^Select / }).count(), 1, 'only the tagged idea')
  await expectNoAxeViolations(page, 'inbox filtered by tag')

  // The dashboard lists it among the items assigned to me.
  await page.getByRole('link', { name: 'Dashboard', exact: true }).first().click()
  await page.waitForURL('**/board/dashboard')
  const mine = page.locator('h3:text-is("Assigned to me") + ul')
  assert.ok(await mine.getByRole('link', { name: IDEA, exact: true }).isVisible(), 'the dashboard lists the idea')
  await expectNoAxeViolations(page, 'dashboard')
  await context.close()
})
