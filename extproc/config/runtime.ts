// Moved: config/ only parses and validates; what the config names is read in ../service-material.ts (and the
// credential sources are built in ../credentials/build.ts). This re-export keeps app.ts's import working until
// it imports ../service-material.ts itself; then delete this file and its exemption in eslint.config.js.
export { loadServiceMaterial, readConfigFile, readSecretSource, type ServiceMaterial } from '../service-material.ts';
