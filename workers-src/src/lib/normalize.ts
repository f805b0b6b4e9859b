// What every input goes through before the model (and before the edge cache's
// key, which hashes the request the model receives: lib/cachekey.ts). Only
// what cannot change meaning is folded; what is removed here is removed from
// the model's input too. The table is in docs/design.md ("Input
// normalisation").

/**
 * Invisible characters, removed: format characters (\p{Cf}: zero-width
 * spaces and joiners, bidi controls, soft hyphen, BOM, and the tag
 * characters U+E0001 and U+E0020–E007F, which spell ASCII text no one sees);
 * the rest of the tag block (U+E0000–E007F); control characters (\p{Cc})
 * but for tab and the line breaks (LF, CR, NEL); the variation selectors supplement
 * (U+E0100–E01EF, which can carry a byte each after any character); and the
 * Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), letters that render as
 * nothing.
 */
const INVISIBLE = /[\p{Cf}\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}\u115F\u1160\u3164\uFFA0]|(?![\t\n\r\u0085])\p{Cc}/gu;
/** Line breaks of every kind (CR LF, CR, NEL, LS, PS) become a line feed. */
const LINE_BREAK = /\r\n?|[\u0085\u2028\u2029]/gu;
/** Spaces other than U+0020 (no-break, en, em, thin, ideographic, ...). */
const OTHER_SPACE = /(?! )\p{Zs}/gu;
/** A run of standard variation selectors: only the first can apply to the character before it. */
const SELECTOR_RUN = /([\uFE00-\uFE0F])[\uFE00-\uFE0F]+/gu;

/**
 * The input as the model receives it: line breaks as \n, every space as
 * U+0020, invisible characters removed, canonical composition (NFC, which
 * only joins canonically equivalent forms: "e" + U+0301 is "é"), ends trimmed.
 * Case, punctuation, digits, symbols, compatibility forms (superscripts,
 * full-width letters) and the spacing inside the text are kept as sent.
 */
export function normalizeInput(input: string): string {
  return input
    .replace(INVISIBLE, "")
    .replace(LINE_BREAK, "\n")
    .replace(OTHER_SPACE, " ")
    .replace(SELECTOR_RUN, "$1")
    .normalize("NFC")
    .trim();
}
