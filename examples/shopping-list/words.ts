/**
 * Splitting a typed command line into words, the way a shell would: `add "oat milk"` is two words,
 * `add` and `oat milk`.
 */

/** The words of a line, or what is wrong with it. */
export type Words = { readonly words: string[] } | { readonly error: string };

/**
 * Split `line` into words, shell-style: whitespace separates words; a word that starts with `"` or
 * `'` runs to the matching quote, spaces included, and loses its quotes; a backslash makes the next
 * quote, backslash or space literal. A quote inside a word is literal (`Mike's beer` is two words),
 * so titles with apostrophes need no quoting.
 *
 * @example
 * ```ts
 * splitWords('rename "oat milk" soy milk'); // { words: ['rename', 'oat milk', 'soy', 'milk'] }
 * ```
 */
export function splitWords(line: string): Words {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i]!)) i++;
    if (i >= n) break;
    let word = '';
    const quote = line[i];
    if (quote === '"' || quote === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = line[i]!;
        if (c === quote) {
          closed = true;
          i++;
          break;
        }
        if (c === '\\' && quote === '"' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          word += line[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      if (!closed) return { error: `unterminated ${quote} quote (close it, or put a \\ before it)` };
    }
    // The rest of the word, up to the next space (a quote here is literal).
    while (i < n && !/\s/.test(line[i]!)) {
      const c = line[i]!;
      if (c === '\\' && i + 1 < n && /["'\\\s]/.test(line[i + 1]!)) {
        word += line[i + 1];
        i += 2;
        continue;
      }
      word += c;
      i++;
    }
    words.push(word);
  }
  return { words };
}

/** `text` as one shell word: quoted when it holds spaces or quotes (for hints people copy). */
export function shellQuote(text: string): string {
  if (text !== '' && /^[\w@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
