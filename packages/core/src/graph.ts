/**
 * A cycle in a directed graph given as adjacency (node → the nodes it points to), as the list
 * of nodes with the first repeated last (`a → b → c → a`), or undefined when there is none.
 * Depth-first; finds one cycle, the first reachable in the map's order.
 */
export function findCycle(adjacency: ReadonlyMap<string, Iterable<string>>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const seen = state.get(node);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of adjacency.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of adjacency.keys()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}
