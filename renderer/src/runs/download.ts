// Saving what a screen shows as a file: the browser's download of a Blob
// (CSV) or a data URL (a chart's PNG). In the desktop app the same anchor
// click opens the save dialog.

/** A name a file system takes: letters, digits, dot, dash, underscore. */
export function safeFilename(name: string, ext: string): string {
  const base = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'linea'
  return base.endsWith(`.${ext}`) ? base : `${base}.${ext}`
}

function clickLink(href: string, filename: string): void {
  const a = document.createElement('a')
  a.href = href
  a.download = filename
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  a.remove()
}

export function downloadText(filename: string, text: string, mime = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${mime};charset=utf-8` }))
  clickLink(url, filename)
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export function downloadDataUrl(filename: string, dataUrl: string): void {
  clickLink(dataUrl, filename)
}
