# The Python module `cascade`: the extension cascade/_cascade*.so (python/src, pybind11) over the
# library's objects, plus the pure-Python package files (python/cascade) copied next to it, so
# that <build>/python is importable as is (PYTHONPATH=<build>/python) and setup.py can install it.
#
# Debian's interpreter (/usr/bin/python3) is the one with numpy, pandas and pytest from apt; a
# pyenv or other python3 earlier on PATH would not see them, so it is preferred when present.
if(NOT DEFINED Python_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python_EXECUTABLE /usr/bin/python3)
endif()
set(PYBIND11_FINDPYTHON ON)
find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)
find_package(pybind11 CONFIG REQUIRED)

# pybind11 adds -flto unless IPO is decided; the module is glue over the library objects (not
# LTO-compiled), so LTO only costs link time.
set(CMAKE_INTERPROCEDURAL_OPTIMIZATION OFF)
file(GLOB CASCADE_PY_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/src/*.cc)
pybind11_add_module(_cascade ${CASCADE_PY_SOURCES})
target_link_libraries(_cascade PRIVATE cascade_lib)
target_include_directories(_cascade PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/python/src)
target_compile_definitions(_cascade PRIVATE CASCADE_VERSION="${PROJECT_VERSION}")
set(CASCADE_PY_PACKAGE_DIR ${CMAKE_BINARY_DIR}/python/cascade)
set_target_properties(_cascade PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CASCADE_PY_PACKAGE_DIR})

file(GLOB CASCADE_PY_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/cascade/*)
add_custom_command(
  OUTPUT ${CASCADE_PY_PACKAGE_DIR}/.copied
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CASCADE_PY_PACKAGE_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${CASCADE_PY_FILES} ${CASCADE_PY_PACKAGE_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${CASCADE_PY_PACKAGE_DIR}/.copied
  DEPENDS ${CASCADE_PY_FILES}
  COMMENT "Copying the Python package files")
add_custom_target(cascade_python_files ALL DEPENDS ${CASCADE_PY_PACKAGE_DIR}/.copied)
add_dependencies(_cascade cascade_python_files)
