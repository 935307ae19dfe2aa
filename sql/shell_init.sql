-- newslake: the lake attached read-only, its tables unqualified (USE lake).
-- The extensions are loaded by path from their PyPI packages: nothing is downloaded.
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
LOAD {ducklake_extension};
LOAD {sqlite_scanner_extension};
ATTACH {catalog} AS lake (READ_ONLY);
USE lake;
