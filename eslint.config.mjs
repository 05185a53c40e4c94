// ESLint (npm run lint, and a step of .ci/run). Type-aware: typescript-eslint's
// project service reads tsconfig.json, whose references (tsconfig.node.json,
// tsconfig.web.json) cover electron/, renderer/src (.vue included), tests/ and
// bench/; the .mjs/.cjs scripts outside them get a default project. The
// promise rules are the point: an un-awaited LabApi call or engine message
// fails silently otherwise. eslint recommended, typescript-eslint recommended
// (not recommended-type-checked: its no-unsafe-* rules would flag every use
// of parsed JSON) and vue's flat/recommended for the .vue files.
import js from '@eslint/js'
import { defineConfig, globalIgnores } from 'eslint/config'
import pluginVue from 'eslint-plugin-vue'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  globalIgnores(['out/', 'dist/', 'node_modules/', 'native/build*/', 'artifacts/', '.device/', '.gl/', 'bench/_*']),
  js.configs.recommended,
  tseslint.configs.recommended,
  pluginVue.configs['flat/recommended'],
  // Off: the template layout rules (max-attributes-per-line, html-indent,
  // html-self-closing, ...). Layout is the authors' (no formatter runs over
  // the code, and templates keep short elements on one line); lint is for
  // mistakes.
  pluginVue.configs['no-layout-rules'],
  {
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.node },
      parserOptions: {
        projectService: {
          // Files no tsconfig includes: this config, the scripts, the build hooks.
          allowDefaultProject: ['*.mjs', 'bin/*.js', 'scripts/*.mjs', 'tests/fixtures/*.mjs', 'scripts/*.d.mts', 'build/*.mjs', 'build/*.cjs'],
          // Those are 8 files today (the default cap); room for a few more.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
        },
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.vue'],
      },
    },
  },
  {
    files: ['**/*.vue'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser },
    },
    // TypeScript checks names (vue-tsc); typescript-eslint turns no-undef off
    // for .ts files, and the <script lang="ts"> blocks are the same code.
    rules: { 'no-undef': 'off' },
  },
  {
    files: ['renderer/src/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // electron-builder loads its hooks with require: CommonJS, so require() it is.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      // Promises: a floating promise, a promise where a void callback is
      // expected (an event handler, a timer), awaiting a non-promise.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // An async function without await is fine: it keeps a handler's
      // signature uniform (LabApi handlers all return promises).
      'require-await': 'off',
      '@typescript-eslint/require-await': 'off',
      // Unused on purpose: a field dropped by destructuring
      // (`const { seed: _, ...rest } = spec`) or a name starting with _.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
)
