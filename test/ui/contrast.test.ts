import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** WCAG 2 relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** Every rule of the console's stylesheet that sets both a background and a text colour, as hex. */
function colourPairs(css: string): { selector: string; background: string; color: string }[] {
  const vars = Object.fromEntries([...css.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1], m[2]]));
  const value = (v: string) => (v.startsWith('var(') ? vars[v.slice(6, -1)] : v);
  const out: { selector: string; background: string; color: string }[] = [];
  for (const m of css.matchAll(/([^{}]+)\{([^}]*)\}/g)) {
    const body = m[2]!;
    const bg = /(?:^|;|\s)background(?:-color)?:\s*([^;]+);/.exec(body)?.[1]?.trim();
    const fg = /(?:^|;|\s)color:\s*([^;]+);/.exec(body)?.[1]?.trim();
    if (!bg || !fg) continue;
    const background = value(bg);
    const color = value(fg);
    if (background?.startsWith('#') && color?.startsWith('#') && background.length === 7 && color.length === 7)
      out.push({ selector: m[1]!.trim(), background, color });
  }
  return out;
}

describe('console colours', () => {
  const css = readFileSync(join(__dirname, '../../ui/src/style.css'), 'utf8');
  const pairs = colourPairs(css);

  it('finds the priority, severity and status badges in the stylesheet', () => {
    const selectors = pairs.map((p) => p.selector).join('\n');
    for (const p of ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'])
      expect(selectors).toContain(`.prio-${p}`);
    expect(selectors).toContain('.status-firing');
    expect(pairs.length).toBeGreaterThan(15);
  });

  it('gives every text-on-background pair at least WCAG AA contrast (4.5:1)', () => {
    const poor = pairs
      .filter((p) => contrast(p.background, p.color) < 4.5)
      .map((p) => `${p.selector}: ${p.color} on ${p.background}`);
    expect(poor).toEqual([]);
  });

  it('computes contrast as WCAG does', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#ffffff')).toBeCloseTo(4.48, 2);
  });
});
