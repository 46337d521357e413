/**
 * An account's caller ID setting (`patchbay account set … --caller-id`) as the From of the B legs
 * of calls that account places. Accepted forms, and what each one sets:
 *
 *   `Alice <1001>`, `"Alice" <1001>`  display name "Alice", From user 1001
 *   `<1001>`, `<sip:1001@any.host>`    From user 1001 only (the host is always the tenant's domain)
 *   `1001`, `+15551234567`             From user only: a bare value that looks like a number
 *   `Alice`, `Front Desk`              display name only: any other bare value
 *
 * A part that is empty or not usable in a SIP From (a user with characters RFC 3261 does not allow
 * unescaped, quotes or angle brackets in a name) is ignored, so a bad setting never produces a
 * malformed INVITE: the caller's own From shows through instead.
 */
export interface CallerId { displayName?: string; user?: string }

/** RFC 3261 `user` characters (unreserved / escaped / user-unreserved). */
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2}){1,64}$/;
const NUMBER_RE = /^\+?[0-9*#]{1,32}$/;
const NAME_RE = /^[^\r\n\u0000"<>\\]{1,128}$/;

export function parseCallerId(setting: string | null | undefined): CallerId {
  const text = (setting ?? '').trim();
  if (!text) return {};
  const angle = /^(.*?)\s*<([^<>]*)>$/.exec(text);
  if (angle) {
    return { displayName: displayNameOf(angle[1]!), user: userOf(angle[2]!.trim()) };
  }
  if (NUMBER_RE.test(text)) return { user: text };
  return { displayName: displayNameOf(text) };
}

function displayNameOf(raw: string): string | undefined {
  let name = raw.trim();
  if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1).trim();
  return NAME_RE.test(name) ? name : undefined;
}

function userOf(raw: string): string | undefined {
  const uri = /^sips?:([^@;]+)@/i.exec(raw);
  const user = uri ? uri[1]! : raw;
  return USER_RE.test(user) ? user : undefined;
}
