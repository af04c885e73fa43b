// docs/LAYOUT.md is the contract a peer implements from; its tables (the
// set's and the area registry's) must say what the compiler laid out (native/layout.h), field
// by field, or this fails: the page cannot drift from the code.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { addon, packageRoot } from '../../src/native';

/** The rows `| offset | size | field | ... |` of the table under `### heading`. */
function tableUnder(doc: string, heading: string): Map<string, [number, number]> {
  const start = doc.split('\n').findIndex((l) => l.startsWith(`### ${heading}`));
  if (start < 0) throw new Error(`docs/LAYOUT.md has no section "### ${heading}"`);
  const rows = new Map<string, [number, number]>();
  const lines = doc.split('\n').slice(start + 1);
  for (const line of lines) {
    if (line.startsWith('#')) break;
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !/^\d/.test(cells[1])) continue;
    // "16 × 128" is an array's size; a field name is between backquotes.
    const size = cells[2].split('×').reduce((n, part) => n * Number(part.trim()), 1);
    rows.set(cells[3].replace(/`/g, ''), [Number(cells[1]), size]);
  }
  return rows;
}

describe('docs/LAYOUT.md against the compiled layout', () => {
  const doc = fs.readFileSync(path.join(packageRoot, 'docs', 'LAYOUT.md'), 'utf8');
  for (const [heading, fields] of Object.entries(addon.layout.fields)) {
    it(`gives every field of the ${heading.toLowerCase()} its compiled offset and size, and no other field`, () => {
      const documented = tableUnder(doc, heading);
      expect(Object.fromEntries(documented)).to.deep.equal(fields);
    });
  }
});
