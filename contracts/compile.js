// compile.js compiles contracts/src/*.sol with the pinned solc-js and writes,
// per contract, build/<Name>.abi (JSON), build/<Name>.bin (creation code) and
// build/<Name>.bin-runtime (deployed code), as hex without 0x.
//
// Usage: node compile.js <node_modules dir> <src dir> <out dir>
//
// The output depends only on the sources and the pinned packages: source
// units are named by relative paths ("src/X.sol", "@openzeppelin/..."), the
// metadata hash and CBOR trailer are left out of the bytecode (so no path or
// hash leaks into it), and files are handled in sorted order.
"use strict";
const fs = require("fs");
const path = require("path");

const [nodeModules, srcDir, outDir] = process.argv.slice(2);
if (!nodeModules || !srcDir || !outDir) {
  console.error("usage: node compile.js <node_modules dir> <src dir> <out dir>");
  process.exit(2);
}
const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "package.json"), "utf8"));

// Refuse a compiler or library other than the pinned ones.
function installedVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(nodeModules, name, "package.json"), "utf8")).version;
}
for (const name of Object.keys(pkg.dependencies)) {
  const have = installedVersion(name);
  if (have !== pkg.dependencies[name]) {
    console.error(`compile.js: ${name} ${have} is installed, ${pkg.dependencies[name]} is pinned: rerun contracts/build.sh tools`);
    process.exit(1);
  }
}
const solc = require(path.join(nodeModules, "solc"));
if (!solc.version().startsWith(pkg.dependencies.solc + "+")) {
  console.error(`compile.js: solc reports ${solc.version()}, ${pkg.dependencies.solc} is pinned`);
  process.exit(1);
}

const sources = {};
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources["src/" + f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    // Cancun: every network of the presets and geth --dev run it.
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: Object.fromEntries(
      Object.keys(sources).map((s) => [s, { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] }]),
    ),
  },
};

// Imports resolve only inside the pinned @openzeppelin/contracts package.
function findImports(p) {
  const prefix = "@openzeppelin/contracts/";
  if (!p.startsWith(prefix) || p.includes("..")) {
    return { error: `import ${p}: only ${prefix}... is allowed` };
  }
  try {
    return { contents: fs.readFileSync(path.join(nodeModules, p), "utf8") };
  } catch (e) {
    return { error: `import ${p}: ${e.message}` };
  }
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
let failed = false;
for (const e of output.errors || []) {
  console.error(e.formattedMessage || e.message);
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
const written = [];
for (const file of Object.keys(output.contracts || {}).sort()) {
  for (const name of Object.keys(output.contracts[file]).sort()) {
    const c = output.contracts[file][name];
    if (!c.evm.bytecode.object) continue; // an interface or abstract contract
    fs.writeFileSync(path.join(outDir, name + ".abi"), JSON.stringify(c.abi, null, 2) + "\n");
    fs.writeFileSync(path.join(outDir, name + ".bin"), c.evm.bytecode.object);
    fs.writeFileSync(path.join(outDir, name + ".bin-runtime"), c.evm.deployedBytecode.object);
    written.push(name);
  }
}
if (written.length === 0) {
  console.error("compile.js: no contract compiled");
  process.exit(1);
}
console.log(`solc ${solc.version()}: ${written.join(", ")}`);
