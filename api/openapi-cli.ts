import { writeFile } from 'node:fs/promises';
import { openApiDocument } from './openapi-document.js';
import { webApiTypes } from './web-types.js';

/** `npm run openapi`: writes the OpenAPI document of the API to ./openapi.json and the dashboard's types from it. */
const target = new URL('../openapi.json', import.meta.url);
const types = new URL('../web/api-types.d.ts', import.meta.url);
const doc = await openApiDocument();
await writeFile(target, doc);
await writeFile(types, await webApiTypes(doc));
process.stdout.write(`wrote ${target.pathname} and ${types.pathname}\n`);
