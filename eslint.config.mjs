// ESLint flat config: TypeScript everywhere, strict about `any` on public surfaces.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "artifacts/**",
      "cache/**",
      "typechain-types/**",
      "coverage/**",
      "dist/**",
      "app/dist/**",
      "kafka/lib/**",
      ".kafka/**",
      "test-results/**",
      ".tmp*/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // The client package runs in the browser and in Node: no DOM, no Node built-in, the SDK's
    // browser-safe entry only, nothing from the dapp, the tasks or the node.
    files: ["client/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", "window", "document", "localStorage", "sessionStorage", "navigator"],
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*", "fs", "path", "os", "crypto"], message: "The client runs in browsers too." },
            {
              regex: "(^|/)sdk(/(?!isomorphic$).*)?$",
              message: "Import the SDK's browser-safe entry, sdk/isomorphic.",
            },
            {
              group: ["**/app/**", "**/tasks/**", "**/relayer/**"],
              message: "The client depends on the SDK only.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off" },
  },
  {
    files: ["**/*.js", "**/*.cjs", "**/*.mjs"],
    languageOptions: {
      globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly" },
    },
  },
);
