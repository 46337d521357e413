import type { Page } from 'playwright-core';

/** Replaces the whole content of the page's code editor (Monaco), as a paste would (no auto-closed brackets). */
export async function setSource(page: Page, source: string): Promise<void> {
  await page.locator('[data-testid=code-editor] .view-lines').click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(source);
}

/**
 * Reads the details pane (doc comment) of the editor's suggestion list, for `expect.poll`:
 * Ctrl+Space opens it when collapsed (and reopens the list if it closed meanwhile), so poll at
 * most every 500 ms, or it is toggled back shut.
 */
export function suggestionDetails(page: Page): () => Promise<string> {
  const details = page.locator('.suggest-details');
  return async () => {
    if (!(await details.isVisible())) {
      await page.keyboard.press('Control+Space');
      return '';
    }
    return details.innerText({ timeout: 500 }).catch(() => '');
  };
}
