/** runHook() moved to src/hooks.ts (the cluster layer, below the endpoint, uses it too). */
export * from "../hooks.ts";
