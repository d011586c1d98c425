// Reading sdk/vectors/protocol.json, as tests/clients/vectors.py does for the Python tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VECTORS_FILE = fileURLToPath(new URL("../../../sdk/vectors/protocol.json", import.meta.url));

/** {"$repeat": [text, n]} stands for text repeated n times. */
export function expand(value) {
  if (Array.isArray(value)) return value.map(expand);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$repeat") return value.$repeat[0].repeat(value.$repeat[1]);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expand(item)]));
  }
  return value;
}

export const vectors = JSON.parse(readFileSync(VECTORS_FILE, "utf-8"));
