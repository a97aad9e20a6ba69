/** See fresh-bundle.js. */
export function freshBundle(root: URL): URL | undefined;
