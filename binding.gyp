{
  "targets": [
    {
      # The side object and the FIFO engine with no Node in them, and the C
      # library on them (native/intervmfs.h): what C programs link, and the
      # base of the addon's core below.
      "target_name": "libintervmfs",
      "product_name": "intervmfs",
      "product_prefix": "lib",
      "type": "static_library",
      "sources": [
        "native/side.cc",
        "native/engine/fifo_engine.cc",
        "native/engine/wake_word.cc",
        "native/fuse_glue.cc",
        "native/memsection_set.cc",
        "native/name_index.cc",
        "native/channel_table.cc",
        "native/notifier.cc",
        "native/doorbell.cc",
        "native/doorbell_server.cc",
        "native/area_registry.cc",
        "native/area_router.cc",
        "native/doorbell_hub.cc",
        "native/c_library.cc",
        "native/port/wire.cc",
        "native/port/mirror.cc",
        "native/port/port_transport.cc",
        "native/port/link.cc"
      ],
      # libfuse's headers only (struct fuse_file_info for the hooks); libfuse
      # itself is called through the pointers fuse-native hands over.
      "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
      # -fPIC: linked into the shared objects below. Exceptions: node-gyp
      # turns them off unless a target asks (node-addon-api's does).
      "cflags_cc": ["-std=c++20", "-O2", "-fPIC", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["_FILE_OFFSET_BITS=64"]
    },
    {
      # The N-API marshalling, compiled once for both addons below.
      "target_name": "intervmfs_core",
      "type": "static_library",
      "sources": [
        "native/addon_memsections.cc",
        "native/addon_table.cc",
        "native/addon_channels.cc",
        "native/addon_area_registry.cc",
        "native/addon_area_router.cc",
        "native/addon_area_layout.cc",
        "native/addon_doorbell_hub.cc",
        "native/addon_doorbell_server.cc"
      ],
      "dependencies": ["libintervmfs", "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
      "cflags_cc": ["-std=c++20", "-O2", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"]
    },
    {
      # The addon the package ships.
      "target_name": "intervmfs",
      "sources": ["native/addon.cc"],
      "dependencies": ["intervmfs_core", "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
      "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"]
    },
    {
      # The bench's peer; its clib: endpoints go through the C library.
      "target_name": "intervmfs-peer",
      "type": "executable",
      "sources": ["bench/peer.c"],
      "dependencies": ["libintervmfs"],
      "include_dirs": ["native"],
      "libraries": ["-lstdc++", "-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      # The C API's example (README "From a C program").
      "target_name": "intervmfs-cat",
      "type": "executable",
      "sources": ["native/examples/channel-cat.c"],
      "dependencies": ["libintervmfs"],
      "include_dirs": ["native"],
      "libraries": ["-lstdc++", "-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "intervmfs-cref",
      "type": "executable",
      "sources": ["bench/cref.c"],
      "include_dirs": ["<!(node -p \"require('fuse-shared-library').include\")"],
      "libraries": ["<!(node -p \"require('fuse-shared-library').lib\")", "-lpthread"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-Wl,-rpath,'$$ORIGIN/../../node_modules/fuse-native/build/Release'"]
    }
  ],
  "variables": {"intervmfs_test%": 0},
  "conditions": [
    ["intervmfs_test==1", {
      "targets": [
        {
          # The unit tests' addon: the same, plus the engine harness that runs
          # requests on threads of their own (addon_engine_harness.h). Built only
          # with --intervmfs_test=1, which scripts/build-native.js passes in a
          # checkout; never packed (scripts/prebuilds.js packs intervmfs.node).
          "target_name": "intervmfs_test",
          "sources": ["native/addon.cc", "native/addon_engine_harness.cc"],
          "dependencies": ["intervmfs_core", "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
          "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
          "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64", "IVFS_TEST_HARNESS"]
        }
      ]
    }]
  ]
}
