/**
 * Dependency order for services: a topological sort that keeps registration order where the
 * dependencies allow it (so the order is predictable), and names what is wrong otherwise.
 */
import { SwitchboardError } from "../errors.ts";

export class DependencyError extends SwitchboardError {
  constructor(message: string) {
    super("bad_dependencies", message);
  }
}

export interface Node {
  readonly name: string;
  readonly dependsOn?: readonly string[];
}

/** Start order: every service after all its dependencies. Throws naming an unknown dependency or a cycle. */
export function startOrder(nodes: readonly Node[]): string[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const node of nodes) {
    for (const dep of node.dependsOn ?? []) {
      if (!byName.has(dep)) {
        throw new DependencyError(`service "${node.name}" depends on "${dep}", which is not registered`);
      }
    }
  }
  const order: string[] = [];
  const done = new Set<string>();
  const path: string[] = []; // the current depth-first path, to name a cycle
  const visit = (name: string): void => {
    if (done.has(name)) return;
    const at = path.indexOf(name);
    if (at !== -1) {
      const cycle = [...path.slice(at), name].join(" → ");
      throw new DependencyError(`services depend on each other in a cycle: ${cycle}`);
    }
    path.push(name);
    for (const dep of byName.get(name)?.dependsOn ?? []) visit(dep);
    path.pop();
    done.add(name);
    order.push(name);
  };
  for (const node of nodes) visit(node.name);
  return order;
}
