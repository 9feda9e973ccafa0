// nhsuk-frontend 10's prebuilt bundle is an ES module that only exports functions;
// nothing starts the components unless initAll() is called. It does nothing (and
// logs why) unless the layout's inline script has put `nhsuk-frontend-supported`
// on <body>, and it is a no-op on pages without `data-module` components.
import { initAll } from 'nhsuk-frontend'
import { followImportProgress } from './import-progress'

initAll()
followImportProgress()
