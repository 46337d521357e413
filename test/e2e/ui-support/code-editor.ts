import type { Page } from 'playwright-core';

/** Replaces the whole content of the page's code editor (Monaco), as a paste would (no auto-closed brackets). */
export async function setSource(page: Page, source: string): Promise<void> {
  await page.locator('[data-testid=code-editor] .view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(source);
}
