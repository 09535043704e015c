// Where the lab finds the programs it runs.
import { fileURLToPath } from 'node:url';

/** bin/meshlet.js of this checkout. */
export const MESHLET_BIN = fileURLToPath(new URL('../../bin/meshlet.js', import.meta.url));
