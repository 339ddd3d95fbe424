// Module resolve hook (see bin/switchboard.js): "switchboard" and "switchboard/…" resolve with
// the "source" export condition, so a handler file's `import … from "switchboard"` gets the
// TypeScript source the CLI itself runs, whether or not dist/ was built. Other packages are
// untouched.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === "switchboard" || specifier.startsWith("switchboard/")) {
    return nextResolve(specifier, { ...context, conditions: [...context.conditions, "source"] });
  }
  return nextResolve(specifier, context);
}
