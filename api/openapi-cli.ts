import { writeFile } from 'node:fs/promises';
import { openApiDocument } from './openapi-document.js';

/** `npm run openapi`: writes the OpenAPI document of the API to ./openapi.json. */
const target = new URL('../openapi.json', import.meta.url);
await writeFile(target, await openApiDocument());
process.stdout.write(`wrote ${target.pathname}\n`);
