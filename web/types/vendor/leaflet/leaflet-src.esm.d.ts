// The type of the module the dashboard loads from /dashboard/vendor/leaflet/ (node_modules/leaflet/dist), for
// web/tsconfig.json: `rootDirs` lays web/types/ over web/, so the page's relative import resolves here.
export * from 'leaflet';
