// Test shared library without the plug-in entry point: loadable, but not a plug-in.
extern "C" __attribute__((visibility("default"))) int wrsec_test_not_an_entry() {
  return 42;
}
