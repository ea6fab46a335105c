// umbra's version, as `umbra --version`, the status document and the
// metrics say it; a test holds it equal to package.json's.
export const VERSION = "0.1.0";
