// Shared helpers for browser journeys run against an already running `hub serve`.
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import AxeBuilder from '@axe-core/playwright'
import { chromium } from 'playwright-core'

if (!process.env.HUB_BASE_URL) {
  throw new Error('HUB_BASE_URL is not set: start `hub serve` and set it to its address, e.g. http://127.0.0.1:8000')
}
export const baseUrl = process.env.HUB_BASE_URL.replace(/\/+$/, '')
export const mailDir = process.env.HUB_MAIL_DIR

const baseOrigin = new URL(baseUrl).origin

// Debian's Chromium, not a Playwright download (none is reachable here). The flags stop
// Chromium calling Google services in the background, which would hang or add noise.
// launch() gives every browser a fresh temporary profile of its own.
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

const contexts = new WeakMap()

// A fresh cookie jar per journey. Requests to any other origin are refused and
// recorded, so a test can prove the page asks no outside host (fonts, analytics).
export async function newContext(browser, { javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ baseURL: baseUrl, javaScriptEnabled })
  context.setDefaultTimeout(10_000)
  const refused = []
  contexts.set(context, { javaScriptEnabled, refused })
  await context.route(
    (url) => url.origin !== baseOrigin,
    (route) => {
      refused.push(route.request().url())
      return route.abort('blockedbyclient')
    },
  )
  return context
}

export function offOriginRequests(context) {
  return contexts.get(context)?.refused ?? []
}

export async function expectNoAxeViolations(page, label) {
  const scripted = contexts.get(page.context())?.javaScriptEnabled !== false
  const audited = scripted ? page : await scriptedCopy(page)
  try {
    const { violations } = await new AxeBuilder({ page: audited })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
      .analyze()
    const report = violations.map(
      (v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
    )
    assert.equal(violations.length, 0, `axe found ${violations.length} violation(s) on ${label}:\n${report.join('\n')}`)
  } finally {
    if (!scripted) await audited.context().close()
  }
}

// axe waits on timers, which never fire in a page with JavaScript off, so it would
// hang there. Instead audit a copy of that page's current DOM, served at the same URL
// (so its stylesheets load) in a scripting context, with its scripts removed so the
// copy stays exactly what a visitor without JavaScript sees.
async function scriptedCopy(page) {
  const html = await page.evaluate(() => {
    const root = document.documentElement.cloneNode(true)
    for (const script of root.querySelectorAll('script')) script.remove()
    return `<!DOCTYPE html>${root.outerHTML}`
  })
  const target = new URL(page.url())
  target.hash = ''
  const context = await newContext(page.context().browser())
  const copy = await context.newPage()
  await copy.route(
    (url) => url.href.split('#')[0] === target.href,
    (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: html }),
  )
  await copy.goto(target.href)
  return copy
}

// lettre's file transport writes one <uuid>.eml per message; the newest one to
// `address` written at or after `after` (a Date or epoch ms) is returned, or with
// `where`, the newest such one whose headers (a Map, lower-case names) it accepts.
export async function latestEmailTo(address, { after = 0, where = () => true } = {}) {
  if (!mailDir) throw new Error('HUB_MAIL_DIR is not set: point it at the directory the server writes .eml files to')
  const since = after instanceof Date ? after.getTime() : after
  const wanted = address.toLowerCase()
  const deadline = Date.now() + 10_000
  for (;;) {
    const names = (await readdir(mailDir).catch(() => [])).filter((n) => n.endsWith('.eml'))
    const files = await Promise.all(
      names.map(async (name) => ({ path: join(mailDir, name), mtime: (await stat(join(mailDir, name))).mtimeMs })),
    )
    files.sort((a, b) => b.mtime - a.mtime)
    for (const file of files.filter((f) => f.mtime >= since)) {
      const bytes = await readFile(file.path)
      const message = parseMessage(bytes)
      if ((message.headers.get('to') ?? '').toLowerCase().includes(wanted) && where(message.headers)) {
        const subject = decodeWords(message.headers.get('subject') ?? '')
        return { subject, headers: message.headers, text: message.text, html: message.html, raw: bytes.toString('utf8') }
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`no such email to ${address} in ${mailDir} within 10 s (${names.length} .eml file(s) there)`)
    }
    await sleep(100)
  }
}

// The first absolute URL in `text` whose path starts with `pathPrefix`.
export function extractLink(text, pathPrefix) {
  for (const [candidate] of text.matchAll(/https?:\/\/[^\s<>"'()]+/g)) {
    const url = new URL(candidate.replace(/&amp;/g, '&').replace(/[.,;:!?]+$/, ''))
    if (url.pathname.startsWith(pathPrefix)) return url.href
  }
  throw new Error(`no link to ${pathPrefix} in:\n${text}`)
}

// Just enough MIME (RFC 2045/2046) for lettre's output: nested multiparts, and
// quoted-printable, base64, 7bit or 8bit bodies.
function parseMessage(bytes) {
  const raw = bytes.toString('latin1')
  const split = raw.search(/\r?\n\r?\n/)
  const head = split < 0 ? raw : raw.slice(0, split)
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '')
  const headers = new Map()
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  const type = (headers.get('content-type') ?? 'text/plain').toLowerCase()
  const result = { headers, text: undefined, html: undefined }
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(headers.get('content-type'))[1]
    const parts = body.split(`--${boundary}`).slice(1)
    for (const part of parts) {
      if (part.startsWith('--')) break
      const inner = parseMessage(Buffer.from(part.replace(/^\r?\n/, ''), 'latin1'))
      result.text ??= inner.text
      result.html ??= inner.html
    }
    return result
  }
  const charset = /charset="?([^";]+)"?/i.exec(type)?.[1] ?? 'utf-8'
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase()
  const decoded = new TextDecoder(charset).decode(decodeBody(body, encoding))
  if (type.startsWith('text/html')) result.html = decoded
  else if (type.startsWith('text/plain')) result.text = decoded
  return result
}

function decodeBody(body, encoding) {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64')
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body.replace(/\r?\n$/, ''))
  return Buffer.from(body.replace(/\r?\n$/, ''), 'latin1')
}

function decodeQuotedPrintable(text) {
  const unwrapped = text.replace(/[ \t]+(?=\r?\n)/g, '').replace(/=\r?\n/g, '')
  const bytes = []
  for (let i = 0; i < unwrapped.length; i++) {
    const hex = unwrapped.slice(i + 1, i + 3)
    if (unwrapped[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16))
      i += 2
    } else {
      bytes.push(unwrapped.charCodeAt(i))
    }
  }
  return Buffer.from(bytes)
}

// RFC 2047 encoded words, which lettre uses for non-ASCII subjects. Adjacent words
// are decoded together because one UTF-8 character may be split across two.
function decodeWords(value) {
  const word = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g
  return value.replace(/=\?[^?]+\?[BbQq]\?[^?]*\?=(?:\s*=\?[^?]+\?[BbQq]\?[^?]*\?=)*/g, (run) => {
    const words = [...run.matchAll(word)]
    const bytes = words.map(([, , kind, data]) =>
      kind.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    )
    return new TextDecoder(words[0][1]).decode(Buffer.concat(bytes))
  })
}

// Signs in through the real journey: the form, the emailed link, the confirm button.
export async function signIn(page, email) {
  const started = Date.now()
  await page.goto('/sign-in')
  await page.getByLabel('Email address').fill(email)
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click()
  await page.waitForURL('**/sign-in/check-email')
  const message = await latestEmailTo(email, { after: started - 1000 })
  const link = extractLink(message.text, '/sign-in/link')
  await page.goto(link)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => !url.pathname.startsWith('/sign-in'))
}
