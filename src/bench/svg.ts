// The results as an SVG chart: for every figure, each channel's speed
// relative to the kernel FIFO on a log scale (right of the line is better).
import { BASELINE, Row, speedup } from './results';

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#7f7f7f'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const FONT = 11;

/**
 * A generous estimate of how wide `text` is drawn at `fontSize` px in a
 * sans-serif font (0.6 em a character; a viewer's Helvetica or DejaVu Sans
 * averages less), so that no label is cut off at the left edge.
 */
export function labelWidth(text: string, fontSize = FONT): number {
  return Math.ceil([...text].length * fontSize * 0.6);
}

export const rowLabel = (r: Row) => `${r.workload} (${r.metric})`;

export function renderSvg(rows: Row[], channels: string[], title: string): string {
  const shown = channels.filter((c) => c !== BASELINE);
  const bar = 9;
  const rowH = shown.length * bar + 14;
  // The label column is as wide as the longest label (at least 260 px); the
  // plot keeps its width and the chart grows instead.
  const left = Math.max(260, 20 + Math.max(0, ...rows.map((r) => labelWidth(rowLabel(r)))) + 8);
  const plotW = 610;
  const width = left + plotW + 30;
  const top = 60;
  const bottom = top + rows.length * rowH;
  const perLine = 4; // legend entries per line
  const height = bottom + 50 + (Math.ceil(shown.length / perLine) - 1) * 16;
  const min = 0.01;
  const max = 100;
  const x = (v: number) => left + ((Math.log10(Math.min(max, Math.max(min, v))) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">speed relative to a kernel FIFO in the same run (log scale; right of the line is faster)</text>`,
  ];
  for (const tick of [0.01, 0.1, 1, 10, 100]) {
    out.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${bottom}" stroke="${tick === 1 ? '#000' : '#ddd'}"/>`);
    out.push(`<text x="${x(tick)}" y="${bottom + 14}" text-anchor="middle">${tick}x</text>`);
  }
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y0 + rowH / 2}" text-anchor="end">${esc(rowLabel(r))}</text>`);
    shown.forEach((c, j) => {
      const s = speedup(r, c);
      if (s === undefined) return;
      const y = y0 + 4 + j * bar;
      const x1 = x(1);
      const x2 = x(s);
      out.push(
        `<rect x="${Math.min(x1, x2)}" y="${y}" width="${Math.max(1, Math.abs(x2 - x1))}" height="${bar - 2}" fill="${COLORS[j % COLORS.length]}"><title>${esc(`${c}: ${s.toFixed(2)}x`)}</title></rect>`,
      );
    });
  });
  shown.forEach((c, j) => {
    const lx = 20 + (j % perLine) * 215;
    const ly = bottom + 28 + Math.floor(j / perLine) * 16;
    out.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${COLORS[j % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly + 9}">${esc(c)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
