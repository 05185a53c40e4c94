// Draws build/icon.png (1024 × 1024, RGBA), the app icon electron-builder
// turns into each OS's format: a forget gate decaying over time (bars) and
// recall rising as a model learns (curve). Run: node build/draw-icon.mjs
import { writeFileSync } from 'node:fs'
import { deflateSync } from 'node:zlib'

const S = 1024
const img = new Uint8ClampedArray(S * S * 4) // transparent
const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16))

/** "over" compositing of one colour with coverage `a` (0..1) onto pixel (x, y). */
function blend(x, y, [r, g, b], a) {
  const i = (y * S + x) * 4
  const below = img[i + 3] / 255
  const out = a + below * (1 - a)
  if (out <= 0) return
  ;[r, g, b].forEach((c, k) => (img[i + k] = (c * a + img[i + k] * below * (1 - a)) / out))
  img[i + 3] = out * 255
}

function roundedRect(x0, y0, w, h, radius, colour, alpha) {
  for (let y = Math.floor(y0); y < y0 + h; y++)
    for (let x = Math.floor(x0); x < x0 + w; x++) {
      const dx = Math.max(x0 + radius - x - 0.5, 0, x + 0.5 - (x0 + w - radius))
      const dy = Math.max(y0 + radius - y - 0.5, 0, y + 0.5 - (y0 + h - radius))
      const coverage = Math.min(1, Math.max(0, radius - Math.hypot(dx, dy) + 0.5))
      if (coverage > 0) blend(x, y, colour, alpha * coverage)
    }
}

roundedRect(32, 32, 960, 960, 200, hex('#1b2236'), 1)
for (let i = 0; i < 7; i++) {
  const h = 560 * Math.exp(-0.32 * i)
  roundedRect(220 + i * 86, 800 - h, 58, h, 14, hex('#5fb8ff'), 0.95 - 0.08 * i)
}
// The curve: the largest coverage of discs (radius 22) stamped along it, then blended once.
const R = 22
const curve = new Uint8Array(S * S)
for (let k = 0; k <= 1000; k++) {
  const px = 200 + k * 0.65
  const py = 800 - 520 * (1 - Math.exp(-k / 180))
  for (let y = Math.floor(py - R - 1); y < py + R + 2; y++)
    for (let x = Math.floor(px - R - 1); x < px + R + 2; x++) {
      const c = 255 * Math.min(1, Math.max(0, R - Math.hypot(x + 0.5 - px, y + 0.5 - py) + 0.5))
      curve[y * S + x] = Math.max(curve[y * S + x], c)
    }
}
for (let p = 0; p < S * S; p++) if (curve[p]) blend(p % S, Math.floor(p / S), hex('#ffb347'), curve[p] / 255)

function crc32(buf) {
  let c = ~0
  for (const byte of buf) {
    c ^= byte
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1))
  }
  return ~c >>> 0
}
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  data.copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}
const rows = Buffer.alloc(S * (1 + S * 4))
for (let y = 0; y < S; y++) Buffer.from(img.buffer, y * S * 4, S * 4).copy(rows, y * (1 + S * 4) + 1) // filter 0 per row
const header = Buffer.alloc(13)
header.writeUInt32BE(S, 0)
header.writeUInt32BE(S, 4)
header.set([8, 6, 0, 0, 0], 8) // 8-bit RGBA
const file = new URL('icon.png', import.meta.url)
writeFileSync(
  file,
  Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]),
)
console.log(`wrote ${file.pathname}`)
