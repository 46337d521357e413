/** Escapes text for an XML attribute value or element content (the five predefined entities). */
export function xmlText(value: string): string {
  // Control characters other than tab/newline are not allowed in XML 1.0 at all: dropped.
  return value
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
