import { z } from 'zod';
import { CONTACT_COMPANY_MAX, CONTACT_NAME_MAX, CONTACT_NOTE_MAX, CONTACT_NUMBER_MAX, CONTACT_NUMBERS_MAX } from '../../../db/index.ts';
import { listQuery } from './common.ts';

export const contactSchema = z
  .object({ id: z.number().int(), name: z.string(), company: z.string().nullable(), numbers: z.array(z.string()), note: z.string().nullable() })
  .meta({ id: 'Contact' });

const oneLine = (max: number) => z.string().max(max).regex(/^[^\r\n\0]*$/, 'must be on one line');
const number = z.string().min(1).max(CONTACT_NUMBER_MAX).regex(/^\s*\+?[0-9 ()./-]*[0-9][0-9 ()./-]*\s*$/, 'must be a phone number (digits, spaces, ( ) . / -, optional leading +)');

export const contactCreateBody = z.object({
  name: oneLine(CONTACT_NAME_MAX).refine((v) => v.trim() !== '', 'must not be empty'),
  company: oneLine(CONTACT_COMPANY_MAX).nullable().optional(),
  numbers: z.array(number).max(CONTACT_NUMBERS_MAX).optional(),
  note: z.string().max(CONTACT_NOTE_MAX).nullable().optional(),
});
export const contactPatchBody = contactCreateBody.partial();

export const contactsQuery = listQuery.extend({ q: z.string().max(100).optional() });

export const contactImportResponse = z.object({
  created: z.number().int(),
  updated: z.number().int(),
  errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
});
