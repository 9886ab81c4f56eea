// The type of the module the dashboard loads from /dashboard/vendor/uplot/ (node_modules/uplot/dist), for
// web/tsconfig.json: `rootDirs` lays web/types/ over web/, so the page's relative import resolves here.
export { default } from 'uplot';
