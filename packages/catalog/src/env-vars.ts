/**
 * The variables a rendered compose file reads: `${NAME}` (required) and `${NAME:-x}` /
 * `${NAME-x}` (with a default). `$$` is a literal dollar, not a variable.
 */
export interface ComposeVariables {
  required: string[];
  withDefault: string[];
}

export function composeVariables(composeText: string): ComposeVariables {
  const required = new Set<string>();
  const withDefault = new Set<string>();
  const re = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?)/g;
  for (const m of composeText.matchAll(re)) {
    if (m[1] === '$' || m[2] === undefined) continue;
    const op = m[3];
    if (op === ':-' || op === '-') withDefault.add(m[2]);
    else required.add(m[2]);
  }
  for (const name of required) withDefault.delete(name);
  return { required: [...required].sort(), withDefault: [...withDefault].sort() };
}
