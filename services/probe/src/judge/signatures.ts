/**
 * Error signatures: text that means "this is an error page" whatever the status code says
 * (a proxy's 502 page served with 200, an app's stack trace, a blank page). They are matched
 * against a page's title and the beginning of its visible text, where error pages put them;
 * deep inside a long page the same words are more likely documentation than an outage. A
 * match says where it was found: only a title that is the error counts as the page's own
 * word; words in the content are evidence that healing wants corroborated (heal/diagnose.ts).
 * The patterns run on at most a title plus SIGNATURE_SCAN_CHARS of text, and none nests
 * quantifiers, so hostile text costs bounded work.
 */

export interface Signature {
  id: string;
  description: string;
  pattern: RegExp;
}

export const ERROR_SIGNATURES: readonly Signature[] = [
  {
    id: 'bad-gateway',
    description: '502 Bad Gateway',
    pattern: /\b502\b[\s:-]*bad gateway|\bbad gateway\b/i,
  },
  {
    id: 'service-unavailable',
    description: '503 Service Unavailable',
    pattern:
      /\b503\b[\s:-]*service (temporarily )?unavailable|\bservice (temporarily )?unavailable\b/i,
  },
  {
    id: 'gateway-timeout',
    description: '504 Gateway Timeout',
    pattern: /\b504\b[\s:-]*gateway time-?out|\bgateway time-?out\b/i,
  },
  {
    id: 'internal-server-error',
    description: 'Internal Server Error',
    pattern: /\binternal server error\b/i,
  },
  {
    id: 'python-traceback',
    description: 'Python traceback',
    pattern: /Traceback \(most recent call last\)/,
  },
  {
    id: 'java-stack-trace',
    description: 'Java stack trace',
    pattern: /\b(Exception|Error)(: [^\n]*)?\n\s+at [\w$.]+\([\w$.]+\.(java|kt|scala):\d+\)/,
  },
  {
    id: 'node-stack-trace',
    description: 'Node.js stack trace',
    pattern: /\b\w*Error: [^\n]*\n\s+at .+ \(\/?[^\s)]+:\d+:\d+\)/,
  },
  {
    id: 'php-fatal',
    description: 'PHP fatal error',
    pattern: /\b(PHP )?Fatal error:\s+Uncaught\b|\bFatal error:.+ on line \d+/,
  },
  {
    id: 'ruby-error',
    description: 'Ruby on Rails error page',
    pattern: /We're sorry, but something went wrong/,
  },
  {
    id: 'application-error',
    description: 'Application error',
    pattern: /\bapplication error: a (client|server)-side exception has occurred/i,
  },
  {
    id: 'db-connection',
    description: 'database connection error',
    pattern:
      /\b(could not connect to (the )?(database|server)|connection refused.*(postgres|mysql|mariadb|database)|SQLSTATE\[HY000\] \[2002\])/i,
  },
  {
    id: 'nginx-default-error',
    description: 'nginx error page',
    pattern: /An error occurred\.\s+Sorry, the page you are looking for is currently unavailable/i,
  },
  {
    id: 'upstream-connect-error',
    description: 'upstream connect error',
    pattern:
      /\bupstream connect error or disconnect\/reset before headers\b|\bno healthy upstream\b/i,
  },
];

/** Characters of visible text searched (after the title). */
export const SIGNATURE_SCAN_CHARS = 3000;
/** Characters of title searched. */
const MAX_TITLE_SCAN_CHARS = 1000;

export interface SignatureMatch {
  id: string;
  description: string;
  excerpt: string;
  /**
   * `title`: the page's title is the error (the match is at least half of it), as on a
   * proxy's or framework's error page. `text`: the phrase is in the page's content, which on
   * a working app may be anyone's words (a forum post, a wiki page): evidence, not proof.
   */
  where: 'title' | 'text';
}

/** A title that is an error message, not one that mentions one ("Help: 502 after upgrade - Forum"). */
function titleIsError(title: string, matched: string): boolean {
  return matched.trim().length * 2 >= title.trim().length;
}

const flat = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Error signatures found in a page's title and the beginning of its text. */
export function findSignatures(fullTitle: string, text: string): SignatureMatch[] {
  const title = fullTitle.slice(0, MAX_TITLE_SCAN_CHARS);
  const haystack = `${title}\n${text.slice(0, SIGNATURE_SCAN_CHARS)}`;
  const found: SignatureMatch[] = [];
  for (const signature of ERROR_SIGNATURES) {
    const inTitle = title === '' ? null : signature.pattern.exec(title);
    if (inTitle !== null && titleIsError(title, inTitle[0])) {
      found.push({
        id: signature.id,
        description: signature.description,
        excerpt: flat(title),
        where: 'title',
      });
      continue;
    }
    const match = signature.pattern.exec(haystack);
    if (match === null) continue;
    const start = Math.max(0, match.index - 40);
    found.push({
      id: signature.id,
      description: signature.description,
      excerpt: flat(haystack.slice(start, match.index + match[0].length + 80)),
      where: 'text',
    });
  }
  return found;
}

/** A page that shows (almost) nothing: no text and no title. */
export function isBlank(title: string, text: string): boolean {
  return title.trim() === '' && text.replace(/\s+/g, '').length < 3;
}
