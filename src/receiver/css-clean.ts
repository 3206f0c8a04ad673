/**
 * CSS from a message, cleaned with a real CSS parser: the browser's own. A sheet is parsed into a
 * constructed `CSSStyleSheet` and a style attribute into a detached element's `style` — neither is
 * applied to a document, so nothing loads while they are parsed — and then walked through the CSSOM:
 * only plain style rules (and the @media, @supports, @keyframes and @page rules around them) stay, and
 * every declaration whose value could fetch anything (`url()`, `image-set()`, `image()`,
 * `cross-fade()`, `element()`, `src()`) is removed. The browser resolves comments and escapes
 * (`\75 rl(` is `url(`), closes what the author left open (an EFAIL gadget's unclosed `url(`) and
 * serialises the rest canonically, so what we check is exactly what it would apply.
 *
 * A regular expression over the source cannot do this: it needs the closing `)` that an EFAIL
 * gadget leaves out (issue 10). html-body.tsx runs this twice: when it sanitises the HTML, and on
 * the sheets and styles it hands the frame.
 */

/** A CSS function that fetches, as the browser serialises it. */
const FETCHING = /(?:^|[^\w-])(?:-webkit-|-moz-)?(?:url|image-set|image|cross-fade|element|src)\s*\(/i;

/** CSSRule.type of the rules that stay: style, @media, @page, @keyframes and its frames, @supports. */
const KEPT_RULES = new Set([1, 4, 6, 7, 8, 12]);

interface RuleList {
  readonly length: number;
  [index: number]: CSSRule;
  deleteRule?(index: number): void;
}

/** Removes the declarations that could fetch; returns how many. */
export function cleanDeclarations(style: CSSStyleDeclaration): number {
  let removed = 0;
  for (const name of Array.from({ length: style.length }, (_, i) => style.item(i))) {
    if (FETCHING.test(style.getPropertyValue(name))) {
      style.removeProperty(name);
      removed++;
    }
  }
  return removed;
}

function cleanRules(rules: RuleList, remove: (index: number) => void): number {
  let removed = 0;
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!;
    if (!KEPT_RULES.has(rule.type)) {
      // @import, @font-face (its src fetches), @property (its initial value may be a URL),
      // @layer, @container, @counter-style, nested declarations…: left out.
      remove(i);
      removed++;
      continue;
    }
    const style = (rule as Partial<CSSStyleRule>).style;
    if (style) removed += cleanDeclarations(style);
    const inner = (rule as Partial<CSSGroupingRule>).cssRules;
    if (inner)
      removed += cleanRules(inner, (j) =>
        rule.type === 7
          ? (rule as CSSKeyframesRule).deleteRule((inner[j] as CSSKeyframeRule).keyText)
          : (rule as CSSGroupingRule).deleteRule(j),
      );
  }
  return removed;
}

/** Cleans a parsed sheet in place; returns how many rules and declarations were removed. */
export function cleanSheet(sheet: CSSStyleSheet): number {
  return cleanRules(sheet.cssRules, (i) => sheet.deleteRule(i));
}

/**
 * A `<style>` sheet's text, parsed and cleaned in `win`'s realm; null when the browser cannot
 * parse it at all.
 */
export function cleanSheetText(
  win: Window & typeof globalThis,
  text: string,
): { css: string; removed: number } | null {
  const sheet = new win.CSSStyleSheet();
  try {
    sheet.replaceSync(text); // @import is not even parsed by replaceSync
  } catch {
    return null;
  }
  const removed = cleanSheet(sheet) + (/@import/i.test(text) ? 1 : 0);
  return { css: Array.from(sheet.cssRules, (r) => r.cssText).join('\n'), removed };
}

/** A style attribute's text, parsed (on a detached element of `doc`) and cleaned. */
export function cleanStyleText(doc: Document, text: string): { css: string; removed: number } {
  const scratch = doc.createElement('div');
  scratch.style.cssText = text;
  const removed = cleanDeclarations(scratch.style);
  return { css: scratch.style.cssText, removed };
}
