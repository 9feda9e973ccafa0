import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const nhsukDist = here('./node_modules/nhsuk-frontend/dist/nhsuk/')
const outDir = here('./dist/')

// The server mounts dist/ at /assets and the templates name these files directly,
// so file names must be stable (no content hashes, no index.html to rewrite).
//
// nhsuk-frontend's prebuilt files are copied rather than bundled: its
// .min.css trips Vite 8's CSS minifier, and app.js imports the prebuilt ES module
// at run time (see `paths` below) so the browser loads one copy of it.
// Its CSS asks for images at the site root (/assets/images/...); those URLs are made
// relative to the stylesheet so they resolve to dist/nhsuk/assets wherever dist/ is
// mounted, and the server needs no extra route.
function copyNhsukFrontend(): Plugin {
  const files = [
    'nhsuk-frontend.css',
    'nhsuk-frontend.css.map',
    'nhsuk-frontend.min.js',
    'nhsuk-frontend.min.js.map',
    'assets',
  ]
  return {
    name: 'copy-nhsuk-frontend',
    apply: 'build',
    async closeBundle() {
      await mkdir(`${outDir}nhsuk`, { recursive: true })
      for (const file of files) {
        await cp(nhsukDist + file, `${outDir}nhsuk/${file}`, { recursive: true })
      }
      const css = `${outDir}nhsuk/nhsuk-frontend.css`
      const source = await readFile(css, 'utf8')
      const relative = source.replaceAll('url("/assets/images/', 'url("assets/images/')
      if (relative === source) throw new Error('nhsuk-frontend.css no longer uses /assets/images/ URLs: check its image paths')
      await writeFile(css, relative)
    },
  }
}

export default defineConfig({
  publicDir: false,
  plugins: [copyNhsukFrontend()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2020',
    rolldownOptions: {
      input: { app: here('./src/main.ts'), styles: here('./src/app.css') },
      external: ['nhsuk-frontend'],
      output: {
        entryFileNames: '[name].js',
        assetFileNames: (asset) => (asset.names.some((n) => n.endsWith('.css')) ? 'app.css' : '[name][extname]'),
        // Relative to app.js, so it works wherever dist/ is mounted.
        paths: { 'nhsuk-frontend': './nhsuk/nhsuk-frontend.min.js' },
      },
    },
  },
})
