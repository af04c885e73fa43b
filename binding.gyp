{
  "targets": [
    {
      "target_name": "intervmfs",
      "sources": [
        "native/addon.cc",
        "native/engine/fifo_engine.cc",
        "native/engine/wake_word.cc",
        "native/fuse_glue.cc",
        "native/memsection_set.cc",
        "native/name_index.cc",
        "native/channel_table.cc",
        "native/notifier.cc",
        "native/doorbell.cc",
        "native/doorbell_server.cc",
        "native/addon_doorbell_server.cc",
        "native/area_registry.cc",
        "native/area_router.cc",
        "native/addon_areas.cc",
        "native/doorbell_hub.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      # libfuse's headers only (struct fuse_file_info for the hooks); libfuse
      # itself is called through the pointers fuse-native hands over.
      "include_dirs": ["<!(node -e \"require('fuse-shared-library/include')\")"],
      "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_FILE_OFFSET_BITS=64"]
    },
    {
      "target_name": "intervmfs-peer",
      "type": "executable",
      "sources": ["bench/peer.c"],
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
  ]
}
