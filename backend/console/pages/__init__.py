"""The console's pages: one module (and one router) per party, `common` for every member."""
