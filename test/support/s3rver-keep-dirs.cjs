// Preloaded into the tests' s3rver (test/support/services.ts). s3rver's file
// store removes a key's parent directories once a DELETE leaves them empty; a
// PUT under the same prefix that has just created them then fails to open its
// file, on a stream with no error handler, and s3rver exits (seen under the
// temp-blob sweeper). Real S3 has no directories, so here DELETE only removes
// the object's files and empty directories stay, which listings ignore.
const path = require("node:path");
const fs = require("node:fs/promises");
const FilesystemStore = require(path.join(__dirname, "../../node_modules/s3rver/lib/stores/filesystem.js"));

FilesystemStore.prototype.deleteObject = async function deleteObject(bucket, key) {
  const files = ["object", "object.md5", "metadata.json"].map((kind) => this.getResourcePath(bucket, key, kind));
  await Promise.all(
    files.map((file) =>
      fs.unlink(file).catch((err) => {
        if (err.code !== "ENOENT") throw err;
      }),
    ),
  );
};
