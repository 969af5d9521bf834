/**
 * Input checks for `predict`, worded like the server's 400 answers (server/modelops_server/payloads.py),
 * so local and remote mode refuse the same input with the same message. Used by both model kinds.
 */
import { InvalidInputError, pyTypeName } from './errors.js';

export const DEFAULT_MAX_TEXT_CHARS = 10_000;
export const DEFAULT_MAX_TEXTS = 256;

export interface TextLimits {
  maxTextChars: number;
  maxTexts: number;
}

/** `text` (one string) or `texts` (a non-empty list of non-blank strings) -> the list and whether single. */
export function checkTexts(input: unknown, limits: TextLimits): { texts: string[]; single: boolean } {
  const single = !Array.isArray(input);
  const field = single ? 'text' : 'texts';
  const texts: unknown[] = single ? [input] : (input as unknown[]);
  if (texts.length === 0) throw new InvalidInputError(`'${field}' must be a non-empty list of strings`);
  if (texts.length > limits.maxTexts) {
    throw new InvalidInputError(`'${field}' has ${texts.length} texts; the limit is ${limits.maxTexts} per request`);
  }
  texts.forEach((text, index) => {
    const where = single ? `'text'` : `'texts'[${index}]`;
    if (typeof text !== 'string') throw new InvalidInputError(`${where} must be a string, got ${pyTypeName(text)}`);
    if (text.trim() === '') throw new InvalidInputError(`${where} is empty`);
    if (text.length > limits.maxTextChars) {
      throw new InvalidInputError(`${where} has ${text.length} characters; the limit is ${limits.maxTextChars}`);
    }
  });
  return { texts: texts as string[], single };
}
