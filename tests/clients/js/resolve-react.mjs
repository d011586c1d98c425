// `import ... from "react"` resolves to react-hooks.mjs in these tests (node --import).
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === "react") {
          return { url: ${JSON.stringify(new URL("./react-hooks.mjs", import.meta.url).href)}, shortCircuit: true };
        }
        return next(specifier, context);
      }`),
);
