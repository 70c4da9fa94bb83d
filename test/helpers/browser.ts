import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../config/paths.js';
import { ensureDebianBinary, ensureDebianPackage } from '../../services/apt.js';

/** Where the console tests write their screenshots (not committed: see .gitignore). */
export const SCREENSHOTS = process.env.JL_SCREENSHOTS ?? join(packageRoot(), 'test-results', 'console');

/** A CJK font: without one every Chinese glyph renders as a box. */
const CJK_FONT = '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc';

/**
 * Headless Debian chromium, installed (with fonts-noto-cjk) like the other Debian packages the
 * tests need when missing. Playwright downloads no browser here: it drives this one.
 */
export async function launchChromium(): Promise<Browser> {
  const bin = ensureDebianBinary('chromium', 'chromium');
  ensureDebianPackage('fonts-noto-cjk', () => existsSync(CJK_FONT), 'a CJK font (Noto Sans CJK)');
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: bin, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
}

/** Serious and critical accessibility violations (axe-core, WCAG 2 A/AA rules) on the page as it is. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

export const screenshot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
