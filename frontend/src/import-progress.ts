// Keeps an organisation import's page current while it runs. Without this the
// page still works: it has a link to refresh itself. When the import's status
// changes (it starts, or finishes) the page reloads, because the status and the
// outcome (the rejected rows) are rendered by the server.

interface ImportProgress {
  status: string
  total_rows: number
  processed_rows: number
  created_count: number
  updated_count: number
}

const FIELDS = ['processed_rows', 'total_rows', 'created_count', 'updated_count'] as const
const POLL_MS = 2000
const numbers = new Intl.NumberFormat('en-GB')

export function followImportProgress(root: ParentNode = document): void {
  const region = root.querySelector<HTMLElement>('[data-import-progress][data-import-running]')
  const url = region?.dataset.importProgress
  if (!region || !url) return

  const poll = async (): Promise<void> => {
    let progress: ImportProgress
    try {
      const response = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      // Signed out or gone: stop, and leave the refresh link to explain.
      if (!response.ok) return
      progress = (await response.json()) as ImportProgress
    } catch {
      // A dropped connection: try again on the next tick.
      window.setTimeout(poll, POLL_MS)
      return
    }
    for (const field of FIELDS) {
      const element = region.querySelector(`[data-import-field="${field}"]`)
      if (element) element.textContent = numbers.format(progress[field])
    }
    if (progress.status !== region.dataset.importStatus) {
      window.location.reload()
      return
    }
    window.setTimeout(poll, POLL_MS)
  }
  window.setTimeout(poll, POLL_MS)
}
