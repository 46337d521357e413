export const MESSAGE_SUMMARY_TYPE = 'application/simple-message-summary';

/**
 * RFC 3842 message summary with nothing waiting: Patchbay has no voicemail, and phones settle a
 * valid "no" quietly where a 489 makes many of them retry and log errors forever.
 */
export function renderEmptyMessageSummary(account: string): string {
  return `Messages-Waiting: no\r\nMessage-Account: ${account}\r\n`;
}
