// Bundle entry (see ../update.sh): window.graphologyLayoutForceAtlas2 = {forceAtlas2, FA2Layout}.
var forceAtlas2 = require('graphology-layout-forceatlas2');
var FA2Layout = require('graphology-layout-forceatlas2/worker');
window.graphologyLayoutForceAtlas2 = {forceAtlas2: forceAtlas2, FA2Layout: FA2Layout};
