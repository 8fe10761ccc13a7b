# Eigen comes from the PyPI package cmeel-eigen, installed in the build environment.
# It lays its CMake config under <site-packages>/cmeel.prefix; ask the build's own
# interpreter where `cmeel` lives (its purelib path is an overlay in isolated builds).
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
          "import cmeel, os; print(os.path.dirname(os.path.dirname(cmeel.__file__)))"
  OUTPUT_VARIABLE _fastspex_cmeel_site
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _fastspex_cmeel_rc)
if(_fastspex_cmeel_rc EQUAL 0 AND EXISTS "${_fastspex_cmeel_site}/cmeel.prefix")
  list(APPEND CMAKE_PREFIX_PATH "${_fastspex_cmeel_site}/cmeel.prefix")
else()
  message(STATUS "cmeel-eigen not found in the build environment; relying on CMAKE_PREFIX_PATH")
endif()
